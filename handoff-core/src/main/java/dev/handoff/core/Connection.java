package dev.handoff.core;

import com.fasterxml.jackson.databind.JsonNode;
import dev.handoff.core.manifest.ConnectionEntry;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.util.Objects;

/**
 * An established connection on its way between two generations: what the incumbent passes to
 * {@link Takeover#handOver(java.util.Collection)} and what the successor's
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

    /** The connection as a batch entry describes it (the descriptor index is the batch's to fill in). */
    ConnectionEntry entry() {
        InetSocketAddress local;
        InetSocketAddress remote;
        try {
            local = (InetSocketAddress) channel.getLocalAddress();
            remote = (InetSocketAddress) channel.getRemoteAddress();
        } catch (IOException e) {
            throw new IllegalArgumentException(channel + " is closed", e);
        }
        if (remote == null) {
            throw new IllegalArgumentException(channel + " is not connected");
        }
        ByteBuffer bytes = unread.duplicate();
        byte[] copy = new byte[bytes.remaining()];
        bytes.get(copy);
        return new ConnectionEntry(listener, 0, local.getAddress().getHostAddress(), local.getPort(),
                remote.getAddress().getHostAddress(), remote.getPort(), attachment, copy);
    }

    /** The connection a batch entry describes, on the channel rebuilt from its descriptor. */
    static Connection adopted(ConnectionEntry entry, SocketChannel channel) {
        return new Connection(entry.listener(), channel, entry.attachment(), ByteBuffer.wrap(entry.unread()));
    }
}
