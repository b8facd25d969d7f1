package dev.handoff.spring.actuate;

import dev.handoff.core.Handoff;
import dev.handoff.spring.HandoffCoordinator;
import org.springframework.boot.health.contributor.Health;
import org.springframework.boot.health.contributor.HealthIndicator;

/**
 * UP while this process serves; OUT_OF_SERVICE once a successor has taken over and this one drains (so
 * that a load balancer's health check stops sending it new traffic), with the generation and the last
 * handoff as details.
 */
public class HandoffHealthIndicator implements HealthIndicator {

    private final Handoff handoff;
    private final HandoffCoordinator coordinator;

    public HandoffHealthIndicator(Handoff handoff, HandoffCoordinator coordinator) {
        this.handoff = handoff;
        this.coordinator = coordinator;
    }

    @Override
    public Health health() {
        Health.Builder health = coordinator.isDraining() ? Health.outOfService() : coordinator.isReady() ? Health.up() : Health.unknown();
        health.withDetail("generation", handoff.generation()).withDetail("pid", ProcessHandle.current().pid());
        handoff.lastHandoff().ifPresent(last -> health.withDetail("lastHandoff", HandoffEndpoint.describe(last)));
        return health.build();
    }
}
