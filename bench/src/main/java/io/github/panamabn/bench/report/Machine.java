package io.github.panamabn.bench.report;

import com.google.gson.Gson;
import com.google.gson.GsonBuilder;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import jdk.incubator.vector.FloatVector;

/**
 * The machine a run measured: what the report says of it, and the cache sizes that decide which
 * shapes lie beyond the last-level cache. Written by the suite next to JMH's results, read by the report.
 *
 * @param cpu the CPU model
 * @param cores the processors this JVM may use
 * @param jdk the JDK's version
 * @param vectorBits the preferred float vector's width
 * @param l1dBytes the L1 data cache per core (0 if unknown)
 * @param l2Bytes the L2 cache per core (0 if unknown)
 * @param l3Bytes the last-level cache (0 if unknown)
 * @param allocator what the tuned PyTorch forks allocated with (empty without peers)
 */
public record Machine(String cpu, int cores, String jdk, int vectorBits, long l1dBytes, long l2Bytes, long l3Bytes,
                      String allocator) {
    private static final Gson GSON = new GsonBuilder().setPrettyPrinting().create();

    /** This machine, read from /proc and /sys (Linux; elsewhere unknowns are 0). */
    public static Machine current(String allocator) {
        String cpu = "unknown CPU";
        try {
            for (String line : Files.readAllLines(Path.of("/proc/cpuinfo"))) {
                if (line.startsWith("model name")) {
                    cpu = line.substring(line.indexOf(':') + 1).trim();
                    break;
                }
            }
        } catch (IOException | RuntimeException e) {
            // not Linux: keep the default
        }
        long l1d = 0;
        long l2 = 0;
        long l3 = 0;
        for (int i = 0; i < 8; i++) {
            Path dir = Path.of("/sys/devices/system/cpu/cpu0/cache/index" + i);
            try {
                String level = Files.readString(dir.resolve("level")).trim();
                String type = Files.readString(dir.resolve("type")).trim();
                long size = parseSize(Files.readString(dir.resolve("size")).trim());
                switch (level) {
                    case "1" -> l1d = type.equals("Instruction") ? l1d : size;
                    case "2" -> l2 = size;
                    case "3" -> l3 = size;
                    default -> { }
                }
            } catch (IOException | RuntimeException e) {
                break;
            }
        }
        return new Machine(cpu, Runtime.getRuntime().availableProcessors(), Runtime.version().toString(),
                FloatVector.SPECIES_PREFERRED.vectorBitSize(), l1d, l2, l3, allocator);
    }

    /** "48K", "2048K", "105M" as /sys writes them. */
    static long parseSize(String s) {
        char unit = s.charAt(s.length() - 1);
        long k = switch (unit) {
            case 'K' -> 1L << 10;
            case 'M' -> 1L << 20;
            case 'G' -> 1L << 30;
            default -> 1;
        };
        return Long.parseLong(Character.isDigit(unit) ? s : s.substring(0, s.length() - 1)) * k;
    }

    /** One line for the report. */
    public String describe() {
        return cpu + ", " + cores + " cores, JDK " + jdk + ", " + vectorBits + "-bit vectors, L1d " + size(l1dBytes)
                + ", L2 " + size(l2Bytes) + " per core, L3 " + size(l3Bytes);
    }

    private static String size(long bytes) {
        if (bytes == 0) {
            return "unknown";
        }
        return bytes >= 1L << 20 && bytes % (1L << 20) == 0 ? (bytes >> 20) + " MB" : (bytes >> 10) + " KB";
    }

    /** Writes this as JSON. */
    public void write(Path file) throws IOException {
        Files.writeString(file, GSON.toJson(this));
    }

    /** Reads what {@link #write} wrote. */
    public static Machine read(Path file) throws IOException {
        try {
            Machine m = GSON.fromJson(Files.readString(file), Machine.class);
            if (m == null || m.cpu() == null) {
                throw new IOException(file + " holds no machine description");
            }
            return m;
        } catch (RuntimeException e) {
            throw new IOException(file + " is not a machine description written by the suite: " + e.getMessage(), e);
        }
    }
}
