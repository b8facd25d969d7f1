package dev.handoff.spring.diagnostics;

import dev.handoff.core.HandoffRejectedException;
import org.springframework.boot.diagnostics.AbstractFailureAnalyzer;
import org.springframework.boot.diagnostics.FailureAnalysis;

/**
 * A handoff that would not happen: the incumbent busy past {@code handoff.busy-timeout}, a peer refused,
 * a READY the incumbent did not confirm.
 */
public final class HandoffRejectedFailureAnalyzer extends AbstractFailureAnalyzer<HandoffRejectedException> {

    @Override
    protected FailureAnalysis analyze(Throwable rootFailure, HandoffRejectedException cause) {
        String action = switch (cause.outcome()) {
            case BUSY -> "Another generation is still taking over or draining. Deploy again once it has exited, "
                    + "or raise handoff.busy-timeout (and keep handoff.drain-timeout short).";
            case REFUSED -> "Run both generations as the same user (or list the uid in handoff.allowed-peer-uids), "
                    + "and give both the same handoff.shared-secret-file, or neither.";
            default -> "The running generation keeps serving. If it gave up waiting for READY, raise its "
                    + "handoff.ready-timeout above this application's start-up time.";
        };
        return new FailureAnalysis("Handoff did not take over: " + cause.getMessage(), action, cause);
    }
}
