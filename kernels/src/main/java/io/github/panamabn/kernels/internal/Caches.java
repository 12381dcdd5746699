package io.github.panamabn.kernels.internal;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The machine's last-level cache, as far as the kernels need it: a tensor larger than it streams from
 * memory whatever a caller did with it just before, and the loops that read it then favour one
 * sequential stream over register reuse; work cut into waves that fit it is read twice from cache,
 * not memory. Read once from Linux's sysfs (the largest data or unified cache of CPU 0); elsewhere, or
 * when unreadable, 32 MB.
 */
final class Caches {
    /**
     * Test-only: the last-level cache's size in bytes; 0 makes every tensor stream, so that the suites
     * prove the streaming loops on small tensors.
     */
    static final String LAST_LEVEL_PROPERTY = "panamabn.lastLevelCacheBytes";
    /** The last-level cache's size in bytes. */
    static final long LAST_LEVEL = Long.getLong(LAST_LEVEL_PROPERTY, lastLevelFromSysfs(32L << 20));

    private Caches() {
    }

    /** Whether a tensor of {@code bytes} cannot be resident in the last-level cache. */
    static boolean streams(long bytes) {
        return bytes > LAST_LEVEL;
    }

    private static long lastLevelFromSysfs(long fallback) {
        long largest = 0;
        Path caches = Path.of("/sys/devices/system/cpu/cpu0/cache");
        for (int i = 0; i < 8; i++) {
            Path index = caches.resolve("index" + i);
            try {
                if (!Files.isDirectory(index)) {
                    break;
                }
                if (Files.readString(index.resolve("type")).trim().equals("Instruction")) {
                    continue;
                }
                largest = Math.max(largest, parseSize(Files.readString(index.resolve("size")).trim()));
            } catch (IOException | RuntimeException e) {
                // unreadable (a sandbox, another OS): keep what was read so far
                break;
            }
        }
        return largest > 0 ? largest : fallback;
    }

    /** sysfs writes sizes as {@code 32768K}, {@code 1M} or plain bytes. */
    static long parseSize(String text) {
        char unit = Character.toUpperCase(text.charAt(text.length() - 1));
        long scale = switch (unit) {
            case 'K' -> 1L << 10;
            case 'M' -> 1L << 20;
            case 'G' -> 1L << 30;
            default -> 1;
        };
        String digits = scale == 1 ? text : text.substring(0, text.length() - 1);
        return Long.parseLong(digits) * scale;
    }
}
