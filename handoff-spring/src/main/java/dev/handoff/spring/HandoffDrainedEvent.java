package dev.handoff.spring;

import dev.handoff.core.Takeover;
import org.springframework.context.ApplicationEvent;

/**
 * Published when the drain after a takeover is over, before the context closes: what happened to the
 * web server's connections ({@link WebServerDrain.Outcome}).
 */
public class HandoffDrainedEvent extends ApplicationEvent {

    private final transient WebServerDrain.Outcome outcome;

    public HandoffDrainedEvent(Takeover takeover, WebServerDrain.Outcome outcome) {
        super(takeover);
        this.outcome = outcome;
    }

    public Takeover getTakeover() {
        return (Takeover) getSource();
    }

    public WebServerDrain.Outcome getOutcome() {
        return outcome;
    }
}
