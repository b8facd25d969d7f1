package dev.handoff.spring;

import dev.handoff.core.Handoff;
import org.springframework.context.ApplicationEvent;

/** Published once this application serves and has told its predecessor (if any) READY. */
public class HandoffReadyEvent extends ApplicationEvent {

    public HandoffReadyEvent(Handoff handoff) {
        super(handoff);
    }

    public Handoff getHandoff() {
        return (Handoff) getSource();
    }
}
