package dev.handoff.spring.tomcat;

import dev.handoff.core.Connection;
import dev.handoff.core.Handoff;
import dev.handoff.spring.MovableConnections;
import org.apache.coyote.http11.Http11NioProtocol;

import java.util.Map;
import java.util.function.Consumer;

/** Tomcat's HTTP/1.1 NIO protocol on a {@link HandoffNioEndpoint}. */
public class HandoffHttp11NioProtocol extends Http11NioProtocol implements MovableConnections {

    public HandoffHttp11NioProtocol() {
        super(new HandoffNioEndpoint());
    }

    private HandoffNioEndpoint endpoint() {
        return (HandoffNioEndpoint) getEndpoint();
    }

    /**
     * The endpoint's listening socket comes from {@code handoff} under the name {@code listener}, and so do
     * its predecessor's connections.
     */
    void listenOn(Handoff handoff, String listener) {
        endpoint().listenOn(handoff, listener);
        handoff.onConnection(listener, this::adopt);
    }

    /**
     * Connections open on the endpoint. (Tomcat's own connection count is gone once the server socket
     * closes gracefully: it releases the latch that counts.)
     */
    public int openConnections() {
        return getEndpoint().getConnections().size();
    }

    /** Stops accepting; the connections already open stay as they are. */
    public void stopAccepting() {
        endpoint().stopAccepting();
    }

    @Override
    public String listener() {
        return endpoint().listener();
    }

    @Override
    public void adopt(Connection connection) {
        endpoint().adopt(connection);
    }

    @Override
    public void release(Consumer<Connection> sink) {
        endpoint().release(sink);
    }

    @Override
    public void wakeIdle() {
        endpoint().wakeIdle();
    }

    @Override
    public void keep() {
        endpoint().keep();
    }

    @Override
    public Map<String, Integer> unmovable() {
        return endpoint().unmovable();
    }

    @Override
    public void closeUnmovable() {
        endpoint().closeUnmovable();
    }
}
