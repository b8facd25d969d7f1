package dev.handoff.core;

import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Consumer;

/**
 * Who adopts the connections a predecessor hands over: a handler per listener name, and one for every
 * listener without its own. A connection whose listener has neither is refused, so it stays with the
 * predecessor, which serves it to its end.
 */
final class ConnectionHandlers {

    private final Map<String, Consumer<Connection>> byListener = new ConcurrentHashMap<>();
    private volatile Consumer<Connection> fallback;

    void add(String listener, Consumer<Connection> handler) {
        if (byListener.putIfAbsent(listener, handler) != null) {
            throw new IllegalStateException("a connection handler for listener '" + listener + "' is already registered");
        }
    }

    void addForAll(Consumer<Connection> handler) {
        fallback = handler;
    }

    boolean isEmpty() {
        return fallback == null && byListener.isEmpty();
    }

    Optional<Consumer<Connection>> forListener(String listener) {
        return Optional.ofNullable(byListener.getOrDefault(listener, fallback));
    }
}
