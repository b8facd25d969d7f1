package dev.handoff.spring.tomcat;

import dev.handoff.core.Handoff;
import org.apache.coyote.http11.Http11NioProtocol;

/** Tomcat's HTTP/1.1 NIO protocol on a {@link HandoffNioEndpoint}. */
public class HandoffHttp11NioProtocol extends Http11NioProtocol {

    public HandoffHttp11NioProtocol() {
        super(new HandoffNioEndpoint());
    }

    /** The endpoint's listening socket comes from {@code handoff}. */
    void listenOn(Handoff handoff) {
        ((HandoffNioEndpoint) getEndpoint()).listenOn(handoff);
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
        ((HandoffNioEndpoint) getEndpoint()).stopAccepting();
    }
}
