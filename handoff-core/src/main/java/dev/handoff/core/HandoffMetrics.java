package dev.handoff.core;

/**
 * Where the {@code handoff.*} meters go: nowhere unless the application passes a Micrometer registry
 * ({@link HandoffOptions.Builder#meterRegistry}). Micrometer is an optional dependency: its classes are
 * loaded only through {@link MicrometerMetrics}, and only when a registry was given.
 */
interface HandoffMetrics {

    /** The role a process plays in a handoff, as the {@code role} tag names it. */
    String INCUMBENT = "incumbent";
    String SUCCESSOR = "successor";

    HandoffMetrics NONE = new HandoffMetrics() {
    };

    static HandoffMetrics of(HandoffOptions options) {
        return options.meterRegistry().isPresent() ? new MicrometerMetrics(options.meterRegistry().get()) : NONE;
    }

    /** The gauge of this process's generation. */
    default void generation(Handoff handoff) {
    }

    /** One handoff ended, seen as {@code role}. */
    default void handoff(String role, HandoffResult result) {
    }

    /** One {@link Handoff#upgrade()} ended. */
    default void upgrade(HandoffResult result) {
    }

    /** Connections moved, seen as {@code role}: {@code adopted} by the successor, or {@code kept} by the incumbent. */
    default void connections(String role, String outcome, int count) {
    }

    /** Connections the incumbent closed at its drain instead of handing them over, by why they could not move. */
    default void connectionsClosed(String reason, int count) {
    }
}
