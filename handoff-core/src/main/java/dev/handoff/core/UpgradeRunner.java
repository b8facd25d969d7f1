package dev.handoff.core;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;

/**
 * {@link Handoff#upgrade()}: starts the configured successor command and waits for the handoff to the
 * process it started (or to a descendant of it, for wrapper scripts), for its death, or for the upgrade
 * timeout. Runs on the caller's thread; owns nothing but the process it starts.
 */
final class UpgradeRunner {

    private static final Logger log = LoggerFactory.getLogger(UpgradeRunner.class);
    private static final long POLL_MILLIS = 100;

    private final HandoffOptions options;
    private final HandoffEvents events;
    private final HandoffMetrics metrics;
    private final BooleanSupplier sessionActive;

    UpgradeRunner(HandoffOptions options, HandoffEvents events, HandoffMetrics metrics, BooleanSupplier sessionActive) {
        this.options = options;
        this.events = events;
        this.metrics = metrics;
        this.sessionActive = sessionActive;
    }

    HandoffResult upgrade(List<String> command) throws IOException, InterruptedException {
        long start = System.nanoTime();
        int seen = events.count();
        ProcessBuilder builder = new ProcessBuilder(command).inheritIO();
        builder.environment().put("HANDOFF_PARENT_PID", Long.toString(ProcessHandle.current().pid()));
        Process child = builder.start();
        log.info("upgrade: started successor pid {}: {}", child.pid(), command);
        HandoffResult result = awaitResultFrom(child, seen, start);
        metrics.upgrade(result);
        return result;
    }

    private HandoffResult awaitResultFrom(Process child, int seen, long start) throws InterruptedException {
        long deadline = start + options.upgradeTimeout().toNanos();
        while (true) {
            long left = TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime());
            Optional<HandoffResult> result = events.awaitResult(seen, r -> isProcessOrDescendant(r.peerPid(), child.toHandle()),
                    Math.max(0, Math.min(POLL_MILLIS, left)));
            if (result.isPresent()) {
                return result.get();
            }
            if (!child.isAlive() && !sessionActive.getAsBoolean()) {
                return HandoffResult.of(HandoffResult.Outcome.FAILED, "successor pid " + child.pid()
                        + " exited with status " + child.exitValue() + " before handing over", child.pid(), start, 0);
            }
            if (left <= 0) {
                // The whole tree: a wrapper's child must not take over after this says it was killed.
                child.descendants().forEach(ProcessHandle::destroyForcibly);
                child.destroyForcibly();
                return HandoffResult.of(HandoffResult.Outcome.FAILED, "successor pid " + child.pid()
                        + " was not READY within " + options.upgradeTimeout() + "; killed it", child.pid(), start, 0);
            }
        }
    }

    private static boolean isProcessOrDescendant(long pid, ProcessHandle ancestor) {
        if (pid == ancestor.pid()) {
            return true;
        }
        Optional<ProcessHandle> current = ProcessHandle.of(pid);
        while (current.isPresent()) {
            current = current.get().parent();
            if (current.isPresent() && current.get().pid() == ancestor.pid()) {
                return true;
            }
        }
        return false;
    }
}
