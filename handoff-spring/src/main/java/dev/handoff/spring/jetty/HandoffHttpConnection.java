package dev.handoff.spring.jetty;

import org.eclipse.jetty.io.AbstractEndPoint;
import org.eclipse.jetty.io.EndPoint;
import org.eclipse.jetty.io.SocketChannelEndPoint;
import org.eclipse.jetty.server.Connector;
import org.eclipse.jetty.server.HttpConfiguration;
import org.eclipse.jetty.server.internal.HttpConnection;

/**
 * Jetty's HTTP/1.1 connection with one step in front of reading a request: while its connector releases
 * connections, a connection at its quiet point (no request under way, nothing parsed or buffered,
 * nothing left to write) leaves Jetty instead of reading. Jetty calls {@link #onFillable()} on one thread
 * at a time, and only when the connection waits for its next request.
 */
final class HandoffHttpConnection extends HttpConnection {

    private final JettyConnections connections;

    HandoffHttpConnection(HttpConfiguration configuration, Connector connector, EndPoint endPoint,
                          JettyConnections connections) {
        super(configuration, connector, endPoint);
        this.connections = connections;
    }

    @Override
    public void onFillable() {
        if (connections.isReleasing() && isQuiet() && connections.release(this)) {
            return;
        }
        super.onFillable();
    }

    /** Whether it waits for its next request with nothing of the last one left; plain TCP only. */
    boolean isQuiet() {
        return getEndPoint() instanceof SocketChannelEndPoint endPoint && endPoint.isOpen()
                && getParser().isStart() && isRequestBufferEmpty() && getHttpChannel().getRequest() == null
                && !((AbstractEndPoint) endPoint).getWriteFlusher().isPending();
    }
}
