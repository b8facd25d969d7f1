package dev.handoff.core;

import com.fasterxml.jackson.databind.JsonNode;

import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.util.Objects;

/**
 * An established connection on its way between two generations: what the incumbent passes to
 * {@link Handoff#handOver(java.util.Collection)} and what the successor's
 * {@link Handoff#onConnection(java.util.function.Consumer)} handler receives.
 *
 * @param listener   the name of the listener that accepted it, so the successor knows its protocol
 * @param channel    the connection, not registered with any selector while it moves
 * @param attachment the application's state for this connection (JSON), or null
 * @param unread     bytes already read from the socket but not yet consumed, from position to limit;
 *                   the successor must handle them before anything it reads from the channel
 */
public record Connection(String listener, SocketChannel channel, JsonNode attachment, ByteBuffer unread) {

    private static final ByteBuffer NOTHING = ByteBuffer.allocate(0);

    public Connection {
        Objects.requireNonNull(listener, "listener");
        Objects.requireNonNull(channel, "channel");
        unread = unread == null ? NOTHING.duplicate() : unread;
    }

    /** A connection with no state and nothing unread. */
    public Connection(String listener, SocketChannel channel) {
        this(listener, channel, null, null);
    }
}
