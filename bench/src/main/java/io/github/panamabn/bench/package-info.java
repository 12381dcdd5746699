/** JMH benchmarks of the panama-bn kernels; run from {@code bench/target/benchmarks.jar}. */
package io.github.panamabn.bench;
