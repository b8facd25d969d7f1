package dev.handoff.spring.tomcat;

import dev.handoff.core.Connection;
import dev.handoff.core.Handoff;
import dev.handoff.spring.MovableConnections;
import dev.handoff.spring.WebServerDrain;
import org.apache.coyote.Adapter;
import org.apache.coyote.Request;
import org.apache.coyote.Response;
import org.apache.coyote.http11.Http11NioProtocol;

import java.util.Map;
import java.util.function.Consumer;

/**
 * Tomcat's HTTP/1.1 NIO protocol on a {@link HandoffNioEndpoint}, which during a drain also decides as each
 * response commits whether it says {@code Connection: close}.
 */
public class HandoffHttp11NioProtocol extends Http11NioProtocol implements MovableConnections {

    private volatile WebServerDrain drain;

    public HandoffHttp11NioProtocol() {
        super(new HandoffNioEndpoint());
    }

    /** Tomcat's container, which tells the endpoint as each request ends. */
    @Override
    public void setAdapter(Adapter adapter) {
        super.setAdapter(new RequestEndAdapter(adapter, endpoint()));
    }

    private HandoffNioEndpoint endpoint() {
        return (HandoffNioEndpoint) getEndpoint();
    }

    /**
     * The endpoint's listening socket comes from {@code handoff} under the name {@code listener}, and so do
     * its predecessor's connections.
     */
    void listenOn(Handoff handoff, String listener, WebServerDrain drain) {
        this.drain = drain;
        endpoint().listenOn(handoff, listener);
        handoff.onConnection(listener, this::adopt);
    }

    /**
     * Tomcat asks this as it commits a response with a body, before it reads the response's
     * {@code Connection} header to decide whether the connection stays open: the one point at the commit
     * where a header added still closes the connection. It decides where a servlet filter cannot (an
     * asynchronous request, a response committed while its request still ran); responses without a body
     * and files sent with sendfile get the header from the filter alone (which also runs on an asynchronous
     * request's dispatch back).
     */
    @Override
    public boolean useCompression(Request request, Response response) {
        WebServerDrain drain = this.drain;
        if (drain != null && drain.isDraining()
                && drain.closesConnection(isSSLEnabled(), request.protocol().toString())) {
            response.getMimeHeaders().setValue("Connection").setString("close");
        }
        return super.useCompression(request, response);
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

    @Override
    public int idleConnections() {
        return endpoint().idleConnections();
    }

    @Override
    public void closeIdleConnections() {
        endpoint().closeIdleConnections();
    }
}
