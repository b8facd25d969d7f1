package dev.handoff.core;

import dev.handoff.core.session.SessionConfig;
import dev.handoff.core.session.SuccessorSession;
import dev.handoff.core.session.SuccessorState;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.InterruptedIOException;
import java.time.Duration;

/**
 * A successor's start against an incumbent that is busy (another successor is taking over, or the
 * previous generation still drains into it): back-to-back deploys wait their turn, up to
 * {@link HandoffOptions#busyTimeout()}, saying once what they wait for.
 */
final class BusyWait {

    private static final Logger log = LoggerFactory.getLogger(BusyWait.class);
    private static final Duration FIRST_PAUSE = Duration.ofMillis(100);
    private static final Duration LONGEST_PAUSE = Duration.ofSeconds(2);

    private BusyWait() {
    }

    /** Connects until the attempt ends other than busy, or the busy timeout passes (then: the last busy attempt). */
    static SuccessorSession.Attempt connect(HandoffOptions options, SessionConfig config) throws InterruptedIOException {
        long deadline = System.nanoTime() + options.busyTimeout().toNanos();
        Duration pause = FIRST_PAUSE;
        boolean said = false;
        while (true) {
            SuccessorSession.Attempt attempt = SuccessorSession.connect(options.socketPath(), config);
            long left = deadline - System.nanoTime();
            if (attempt.state() != SuccessorState.BUSY || left <= 0) {
                if (said && attempt.state() == SuccessorState.BUSY) {
                    return new SuccessorSession.Attempt(SuccessorState.BUSY, null, "still busy after "
                            + options.busyTimeout() + " (busyTimeout): " + attempt.reason(), attempt.cause());
                }
                return attempt;
            }
            if (!said) {
                log.info("waiting up to {} for the incumbent at {}: {}", options.busyTimeout(), options.socketPath(),
                        attempt.reason());
                said = true;
            }
            try {
                Thread.sleep(Math.min(pause.toMillis(), Math.max(1, left / 1_000_000)));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new InterruptedIOException("interrupted while waiting for a busy incumbent");
            }
            pause = pause.multipliedBy(2).compareTo(LONGEST_PAUSE) > 0 ? LONGEST_PAUSE : pause.multipliedBy(2);
        }
    }
}
