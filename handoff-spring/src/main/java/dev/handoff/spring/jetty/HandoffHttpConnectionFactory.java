package dev.handoff.spring.jetty;

import dev.handoff.spring.WebServerDrain;
import org.eclipse.jetty.io.Connection;
import org.eclipse.jetty.io.EndPoint;
import org.eclipse.jetty.server.Connector;
import org.eclipse.jetty.server.HttpConnectionFactory;

import java.nio.ByteBuffer;

/**
 * Makes {@link HandoffHttpConnection}s, configured as the factory it replaces made its connections (it
 * shares that factory's {@code HttpConfiguration}); a
 * connection adopted from the predecessor starts with the bytes it had read and not parsed, as an
 * upgraded connection starts with the bytes its predecessor protocol left.
 */
final class HandoffHttpConnectionFactory extends HttpConnectionFactory {

    private final JettyConnections connections;
    private final WebServerDrain drain;

    HandoffHttpConnectionFactory(HttpConnectionFactory replaced, JettyConnections connections, WebServerDrain drain) {
        super(replaced.getHttpConfiguration());
        this.connections = connections;
        this.drain = drain;
        setTransferEncodingChunkMaxLength(replaced.getTransferEncodingChunkMaxLength()); // the rest is in the configuration
    }

    @Override
    public Connection newConnection(Connector connector, EndPoint endPoint) {
        HandoffHttpConnection connection = new HandoffHttpConnection(getHttpConfiguration(), connector, endPoint, connections, drain);
        connection.setTransferEncodingChunkMaxLength(getTransferEncodingChunkMaxLength());
        ByteBuffer unread = connections.unreadOf(endPoint.getTransport());
        if (unread != null && unread.hasRemaining()) {
            connection.onUpgradeTo(unread); // parsed first: onOpen runs it at once instead of waiting to read
        }
        return configure(connection, connector, endPoint);
    }
}
