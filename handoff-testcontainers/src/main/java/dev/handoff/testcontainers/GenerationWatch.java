package dev.handoff.testcontainers;

import org.testcontainers.containers.output.OutputFrame;

import java.time.Duration;
import java.util.EnumMap;
import java.util.Map;
import java.util.concurrent.TimeoutException;
import java.util.function.Consumer;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Follows a container's output (its logs, and the output of servers started in it by {@code docker exec},
 * which the logs do not show) line by line and remembers the newest generation that said it is READY.
 */
final class GenerationWatch {

    private final Pattern ready;
    private int newest;

    GenerationWatch(Pattern ready) {
        this.ready = ready;
    }

    /** A consumer for one stream of output: frames may split lines, so each stream keeps its own partial line. */
    Consumer<OutputFrame> source() {
        Map<OutputFrame.OutputType, StringBuilder> partial = new EnumMap<>(OutputFrame.OutputType.class);
        return frame -> {
            if (frame.getType() == OutputFrame.OutputType.END) {
                return;
            }
            synchronized (partial) {
                StringBuilder line = partial.computeIfAbsent(frame.getType(), type -> new StringBuilder());
                for (char c : frame.getUtf8String().toCharArray()) {
                    if (c == '\n') {
                        read(line.toString());
                        line.setLength(0);
                    } else {
                        line.append(c);
                    }
                }
            }
        };
    }

    private synchronized void read(String line) {
        Matcher matcher = ready.matcher(line);
        if (matcher.find()) {
            newest = Math.max(newest, Integer.parseInt(matcher.group(1)));
            notifyAll();
        }
    }

    /** The newest generation that said READY, 0 before any did. */
    synchronized int newest() {
        return newest;
    }

    /** Waits until generation {@code generation} (or a later one) has said READY. */
    synchronized void await(int generation, Duration timeout) throws InterruptedException, TimeoutException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (newest < generation) {
            long left = deadline - System.nanoTime();
            if (left <= 0) {
                throw new TimeoutException("generation " + generation + " did not say READY within " + timeout
                        + " (newest READY: generation " + newest + ")");
            }
            wait(Math.max(1, left / 1_000_000));
        }
    }
}
