package dev.handoff.core;

import java.io.IOException;

/**
 * {@link Handoff#start(HandoffOptions)} found an incumbent that will not hand over: it is busy with another
 * successor (or still draining), or one side refused the other. Starting cold would collide with it.
 */
public class HandoffRejectedException extends IOException {

    private final HandoffResult.Outcome outcome;

    HandoffRejectedException(HandoffResult.Outcome outcome, String message, Throwable cause) {
        super(message, cause);
        this.outcome = outcome;
    }

    /** {@link HandoffResult.Outcome#BUSY} or {@link HandoffResult.Outcome#REFUSED}. */
    public HandoffResult.Outcome outcome() {
        return outcome;
    }
}
