#!/usr/bin/env bash
# Builds this user's project against the panama-bn jars in the local Maven repository (run
# `mvn -B install -DskipTests` in the repository root first), then runs it on the module path and on
# the class path with a Java 25 runtime.
set -euo pipefail
cd "$(dirname "$0")"
java_home="${JAVA25_HOME:-$(ls -d /usr/lib/jvm/temurin-25* /usr/lib/jvm/*25* 2>/dev/null | head -1)}"
java="$java_home/bin/java"
mvn -B -q package
jars="target/panama-bn-consumer-1.0.jar:$(ls target/lib/*.jar | tr '\n' ':')"
"$java" --add-modules jdk.incubator.vector --module-path "$jars" -m io.github.panamabn.consumer/io.github.panamabn.consumer.Main
"$java" --add-modules jdk.incubator.vector -cp "$jars" io.github.panamabn.consumer.Main
