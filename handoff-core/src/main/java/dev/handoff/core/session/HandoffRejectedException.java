package dev.handoff.core.session;

import java.io.IOException;

/** The incumbent would not hand over: it is busy with another successor, or it refused this one. */
public class HandoffRejectedException extends IOException {

    private final HandoffResult.Outcome outcome;

    public HandoffRejectedException(HandoffResult.Outcome outcome, String message) {
        super(message);
        this.outcome = outcome;
    }

    /** {@link HandoffResult.Outcome#BUSY} or {@link HandoffResult.Outcome#REFUSED}. */
    public HandoffResult.Outcome outcome() {
        return outcome;
    }
}
