package dev.handoff.core;

import dev.handoff.core.session.HandoffResult;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;

import java.util.Locale;

/** The handoff.* meters: one place that names them. */
final class HandoffMetrics {

    static final String HANDOFFS = "handoff.handoffs";
    static final String DURATION = "handoff.duration";
    static final String FDS = "handoff.fds";
    static final String GENERATION = "handoff.generation";
    static final String UPGRADES = "handoff.upgrades";
    static final String CONNECTIONS = "handoff.connections";

    private final MeterRegistry registry;
    private final Counter adoptedHere;

    /**
     * Registers every handoff meter at zero, before the first handoff, so that dashboards see them from
     * the start and a successor does not set them up while its incumbent waits.
     */
    HandoffMetrics(MeterRegistry registry) {
        this.registry = registry;
        for (String role : new String[] {"incumbent", "successor"}) {
            for (HandoffResult.Outcome outcome : HandoffResult.Outcome.values()) {
                handoffs(role, outcome);
            }
            duration(role);
            fds(role);
        }
        for (HandoffResult.Outcome outcome : HandoffResult.Outcome.values()) {
            upgrades(outcome);
        }
        connections("incumbent", "adopted");
        connections("incumbent", "kept");
        adoptedHere = connections("successor", "adopted");
    }

    /** One connection adopted from the predecessor (counted one by one, so the counter is kept at hand). */
    void adopted() {
        adoptedHere.increment();
    }

    void bindGeneration(Handoff handoff) {
        Gauge.builder(GENERATION, handoff, Handoff::generation)
                .description("Generation of this process (the first process is 1)")
                .strongReference(false)
                .register(registry);
    }

    /** One handoff ended; {@code role} is incumbent or successor. */
    void record(String role, HandoffResult result) {
        handoffs(role, result.outcome()).increment();
        if (result.succeeded()) {
            duration(role).record(result.duration());
            fds(role).increment(result.fds());
        }
    }

    void upgrade(HandoffResult result) {
        upgrades(result.outcome()).increment();
    }

    /** Connections handed over: adopted by the successor, or kept by the incumbent because it could not be. */
    void connections(String role, String outcome, int count) {
        if (count > 0) {
            connections(role, outcome).increment(count);
        }
    }

    private Counter connections(String role, String outcome) {
        return Counter.builder(CONNECTIONS).description("Established connections handed over, by role and outcome")
                .tag("role", role).tag("outcome", outcome).register(registry);
    }

    private Counter handoffs(String role, HandoffResult.Outcome outcome) {
        return Counter.builder(HANDOFFS).description("Handoffs by role and outcome")
                .tag("role", role).tag("outcome", name(outcome)).register(registry);
    }

    private Timer duration(String role) {
        return Timer.builder(DURATION).description("From the successor's connection to its READY")
                .tag("role", role).register(registry);
    }

    private Counter fds(String role) {
        return Counter.builder(FDS).description("File descriptors handed over").tag("role", role).register(registry);
    }

    private Counter upgrades(HandoffResult.Outcome outcome) {
        return Counter.builder(UPGRADES).description("Upgrades started by this process, by outcome")
                .tag("outcome", name(outcome)).register(registry);
    }

    private static String name(HandoffResult.Outcome outcome) {
        return outcome.name().toLowerCase(Locale.ROOT);
    }
}
