package dev.handoff.spring.actuate;

import dev.handoff.core.Handoff;
import dev.handoff.core.HandoffResult;
import dev.handoff.spring.HandoffCoordinator;
import org.springframework.boot.actuate.endpoint.annotation.Endpoint;
import org.springframework.boot.actuate.endpoint.annotation.ReadOperation;
import org.springframework.boot.actuate.endpoint.annotation.WriteOperation;

import java.io.IOException;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * {@code /actuator/handoff}: read for this process's pid, generation, how it started, listeners, the
 * connections it adopted from its predecessor, its last handoff and what its drain did with its
 * connections; write ({@code POST}) to start the configured upgrade command and wait for its outcome.
 */
@Endpoint(id = "handoff")
public class HandoffEndpoint {

    private final Handoff handoff;
    private final HandoffCoordinator coordinator;

    public HandoffEndpoint(Handoff handoff, HandoffCoordinator coordinator) {
        this.handoff = handoff;
        this.coordinator = coordinator;
    }

    @ReadOperation
    public Map<String, Object> handoff() {
        Map<String, Object> state = new LinkedHashMap<>();
        state.put("pid", ProcessHandle.current().pid());
        state.put("generation", handoff.generation());
        state.put("inherited", handoff.isInherited());
        handoff.coldStartReason().ifPresent(reason -> state.put("coldStartReason", reason));
        state.put("ready", coordinator.isReady());
        state.put("draining", coordinator.isDraining());
        Map<String, String> listeners = new LinkedHashMap<>();
        handoff.listenerAddresses().forEach((name, address) -> listeners.put(name, address.getHostString() + ":" + address.getPort()));
        state.put("listeners", listeners);
        state.put("connectionsAdopted", handoff.connectionsAdopted());
        handoff.lastHandoff().ifPresent(last -> state.put("lastHandoff", describe(last)));
        coordinator.lastDrain().ifPresent(drain -> state.put("lastDrain", Map.of("moved", drain.moved(), "kept",
                drain.kept(), "notMovable", drain.unmovable(), "leftOpen", drain.leftOpen())));
        return state;
    }

    @WriteOperation
    public Map<String, Object> upgrade() throws IOException, InterruptedException {
        if (handoff.options().upgradeCommand().isEmpty()) {
            return Map.of("outcome", "FAILED", "reason", "no upgrade command configured (handoff.upgrade-command)");
        }
        return describe(handoff.upgrade());
    }

    static Map<String, Object> describe(HandoffResult result) {
        Map<String, Object> description = new LinkedHashMap<>();
        description.put("outcome", result.outcome().name());
        description.put("reason", result.reason());
        description.put("peerPid", result.peerPid());
        description.put("durationMs", result.duration().toNanos() / 1e6);
        description.put("descriptors", result.fds());
        description.put("at", result.at().toString());
        return description;
    }
}
