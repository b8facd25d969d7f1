package dev.handoff.core.session;

import java.time.Duration;

/** How long a state waits for the peer: one of the configured timeouts, or no limit. */
public enum Deadline {
    /** {@code stepTimeout}: one protocol step (hello, welcome, proof, manifest, a batch's answer). */
    STEP,
    /** {@code readyTimeout}: the successor's own start, from the manifest to READY. */
    READY,
    /** {@code probation}: how long the incumbent watches a READY successor; silence is success. */
    PROBATION,
    /**
     * {@code drainTimeout} plus {@code stepTimeout}: the successor receives connections for as long as the
     * predecessor's drain may last (its confirmation says how long), and a step more for the goodbye.
     */
    DRAIN,
    /** No deadline: the state lasts until the peer or the application moves it on. */
    NONE;

    /** The duration under {@code config}; zero for {@link #NONE}. */
    public Duration in(SessionConfig config) {
        return switch (this) {
            case STEP -> config.stepTimeout();
            case READY -> config.readyTimeout();
            case PROBATION -> config.probation();
            case DRAIN -> config.drainTimeout().isZero() ? Duration.ZERO : config.drainTimeout().plus(config.stepTimeout());
            case NONE -> Duration.ZERO;
        };
    }
}
