package dev.handoff.core;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;

import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/** The {@code handoff.*} meters in the application's Micrometer registry. */
final class MicrometerMetrics implements HandoffMetrics {

    static final String HANDOFFS = "handoff.handoffs";
    static final String DURATION = "handoff.duration";
    static final String FDS = "handoff.fds";
    static final String GENERATION = "handoff.generation";
    static final String UPGRADES = "handoff.upgrades";
    static final String CONNECTIONS = "handoff.connections";
    static final String CONNECTIONS_CLOSED = "handoff.connections.closed";

    private final MeterRegistry registry;
    private final Map<String, Counter> connectionCounters = new ConcurrentHashMap<>();

    /**
     * Registers every meter at zero, before the first handoff, so that dashboards see them from the start
     * and a successor does not set them up while its incumbent waits.
     */
    MicrometerMetrics(MeterRegistry registry) {
        this.registry = registry;
        for (String role : new String[] {INCUMBENT, SUCCESSOR}) {
            for (HandoffResult.Outcome outcome : HandoffResult.Outcome.values()) {
                handoffs(role, outcome);
            }
            duration(role);
            fds(role);
        }
        for (HandoffResult.Outcome outcome : HandoffResult.Outcome.values()) {
            upgrades(outcome);
        }
        connectionCounter(INCUMBENT, "adopted");
        connectionCounter(INCUMBENT, "kept");
        connectionCounter(SUCCESSOR, "adopted");
    }

    @Override
    public void generation(Handoff handoff) {
        Gauge.builder(GENERATION, handoff, Handoff::generation)
                .description("Generation of this process (the first process is 1)")
                .strongReference(false)
                .register(registry);
    }

    @Override
    public void handoff(String role, HandoffResult result) {
        handoffs(role, result.outcome()).increment();
        if (result.succeeded()) {
            duration(role).record(result.duration());
            fds(role).increment(result.fds());
        }
    }

    @Override
    public void upgrade(HandoffResult result) {
        upgrades(result.outcome()).increment();
    }

    @Override
    public void connections(String role, String outcome, int count) {
        if (count > 0) {
            connectionCounter(role, outcome).increment(count);
        }
    }

    @Override
    public void connectionsClosed(String reason, int count) {
        if (count > 0) {
            Counter.builder(CONNECTIONS_CLOSED)
                    .description("Connections the incumbent closed at its drain instead of handing them over, by reason")
                    .tag("reason", reason).register(registry).increment(count);
        }
    }

    private Counter connectionCounter(String role, String outcome) {
        // Kept at hand: a successor counts its adopted connections one by one.
        return connectionCounters.computeIfAbsent(role + "/" + outcome, key -> Counter.builder(CONNECTIONS)
                .description("Established connections handed over, by role and outcome")
                .tag("role", role).tag("outcome", outcome).register(registry));
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
