package dev.handoff.harness.load;

/** Percentiles of latency samples, the nearest-rank way: the smallest sample at or above the share asked for. */
public final class Percentile {

    private Percentile() {
    }

    /** The {@code percentile} (0-100) of {@code sortedNanos}, in milliseconds; NaN with no samples. */
    public static double millis(long[] sortedNanos, double percentile) {
        if (sortedNanos.length == 0) {
            return Double.NaN;
        }
        int index = (int) Math.min(sortedNanos.length - 1, Math.max(0, Math.ceil(percentile / 100 * sortedNanos.length) - 1));
        return sortedNanos[index] / 1e6;
    }
}
