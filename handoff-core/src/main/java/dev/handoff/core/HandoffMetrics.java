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

    private final MeterRegistry registry;

    HandoffMetrics(MeterRegistry registry, Handoff handoff) {
        this.registry = registry;
        Gauge.builder(GENERATION, handoff, Handoff::generation)
                .description("Generation of this process (the first process is 1)")
                .strongReference(false)
                .register(registry);
    }

    /** One handoff ended; {@code role} is incumbent or successor. */
    void record(String role, HandoffResult result) {
        String outcome = result.outcome().name().toLowerCase(Locale.ROOT);
        Counter.builder(HANDOFFS).description("Handoffs by role and outcome")
                .tag("role", role).tag("outcome", outcome).register(registry).increment();
        if (result.succeeded()) {
            Timer.builder(DURATION).description("From the successor's connection to its READY")
                    .tag("role", role).register(registry).record(result.duration());
            Counter.builder(FDS).description("File descriptors handed over")
                    .tag("role", role).register(registry).increment(result.fds());
        }
    }

    void upgrade(HandoffResult result) {
        Counter.builder(UPGRADES).description("Upgrades started by this process, by outcome")
                .tag("outcome", result.outcome().name().toLowerCase(Locale.ROOT)).register(registry).increment();
    }
}
