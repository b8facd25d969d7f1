package dev.handoff.core;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Consumer;
import java.util.function.Predicate;

/**
 * What happened, for whoever asks or listens: every handoff this process answered as the incumbent, the
 * takeover under way, and the application's callbacks for both. Owns the history and the callback lists;
 * callbacks run one after the other on the thread that reports, each isolated from the others' failures.
 */
final class HandoffEvents {

    private static final Logger log = LoggerFactory.getLogger(HandoffEvents.class);

    private final HandoffMetrics metrics;
    private final List<Consumer<HandoffResult>> handoffCallbacks = new CopyOnWriteArrayList<>();
    private final List<Consumer<Takeover>> exitCallbacks = new ArrayList<>(); // guarded by this
    private final List<HandoffResult> results = new ArrayList<>(); // guarded by this
    private Takeover takeover; // guarded by this: the takeover under way, or null

    HandoffEvents(HandoffMetrics metrics) {
        this.metrics = metrics;
    }

    /** Keeps a handoff's result (before anyone is woken: they may read {@link #last()}). */
    void record(HandoffResult result) {
        metrics.handoff(HandoffMetrics.INCUMBENT, result);
        synchronized (this) {
            results.add(result);
            notifyAll();
        }
    }

    /** Tells every {@code onHandoff} callback how an attempt ended. */
    void announce(HandoffResult result) {
        for (Consumer<HandoffResult> callback : handoffCallbacks) {
            run(callback, result, "onHandoff");
        }
    }

    /** A successor took over: wakes whoever awaits the exit and runs each {@code onExit} callback once. */
    void takenOver(Takeover current) {
        List<Consumer<Takeover>> callbacks;
        synchronized (this) {
            takeover = current;
            callbacks = List.copyOf(exitCallbacks);
            notifyAll();
        }
        for (Consumer<Takeover> callback : callbacks) {
            run(callback, current, "onExit");
        }
    }

    /** The takeover was given up (its successor vanished): this process serves again and awaits the next one. */
    synchronized void resumed() {
        takeover = null;
    }

    void onHandoff(Consumer<HandoffResult> callback) {
        handoffCallbacks.add(callback);
    }

    /** Registers {@code callback}; runs it at once (here) if a takeover is already under way. */
    void onExit(Consumer<Takeover> callback) {
        Takeover current;
        synchronized (this) {
            exitCallbacks.add(callback);
            current = takeover;
        }
        if (current != null) {
            run(callback, current, "onExit");
        }
    }

    synchronized Optional<Takeover> awaitTakeover(Duration timeout) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (takeover == null) {
            long left = deadline - System.nanoTime();
            if (timeout.isZero() || left <= 0) {
                return Optional.empty();
            }
            wait(Math.max(1, left / 1_000_000));
        }
        return Optional.of(takeover);
    }

    synchronized Takeover awaitTakeover() throws InterruptedException {
        while (takeover == null) {
            wait();
        }
        return takeover;
    }

    synchronized Optional<HandoffResult> last() {
        return results.isEmpty() ? Optional.empty() : Optional.of(results.get(results.size() - 1));
    }

    synchronized int count() {
        return results.size();
    }

    /**
     * The first result after the first {@code seen} that {@code matches}, waiting at most {@code millis};
     * empty if none came.
     */
    synchronized Optional<HandoffResult> awaitResult(int seen, Predicate<HandoffResult> matches, long millis)
            throws InterruptedException {
        long deadline = System.nanoTime() + millis * 1_000_000;
        int checked = seen;
        while (true) {
            for (; checked < results.size(); checked++) {
                if (matches.test(results.get(checked))) {
                    return Optional.of(results.get(checked));
                }
            }
            long left = deadline - System.nanoTime();
            if (left <= 0) {
                return Optional.empty();
            }
            wait(Math.max(1, left / 1_000_000));
        }
    }

    /**
     * Runs one callback, whatever it throws: an {@code onHandoff} callback's assertion or linkage error must
     * not keep {@code onExit} from running, or the application never drains. Only the JVM's own failures
     * (out of memory, ...) go on up.
     */
    private static <T> void run(Consumer<T> callback, T value, String kind) {
        try {
            callback.accept(value);
        } catch (VirtualMachineError e) {
            throw e;
        } catch (Throwable e) {
            log.error("an {} callback failed; the others still run", kind, e);
        }
    }
}
