package dev.handoff.spring.tomcat;

import org.apache.tomcat.util.net.AbstractEndpoint;
import org.apache.tomcat.util.net.NioChannel;
import org.apache.tomcat.util.net.SocketEvent;
import org.apache.tomcat.util.net.SocketWrapperBase;

/**
 * Tomcat's connection handler with one step in front: while the endpoint releases connections, a read
 * event on a connection at its quiet point takes the connection out of Tomcat instead of starting a
 * request. The worker thread that runs it holds the connection's lock, so no other thread touches it.
 */
final class QuietPointHandler implements AbstractEndpoint.Handler<NioChannel> {

    private final AbstractEndpoint.Handler<NioChannel> tomcat;
    private final HandoffNioEndpoint endpoint;

    QuietPointHandler(AbstractEndpoint.Handler<NioChannel> tomcat, HandoffNioEndpoint endpoint) {
        this.tomcat = tomcat;
        this.endpoint = endpoint;
    }

    @Override
    public SocketState process(SocketWrapperBase<NioChannel> socket, SocketEvent status) {
        if (status == SocketEvent.OPEN_READ && endpoint.isReleasing()) {
            HandoffNioEndpoint.Step step = endpoint.atReadEvent(socket);
            if (step == HandoffNioEndpoint.Step.RELEASED) {
                return SocketState.CLOSED; // the wrapper is closed already; the connection is not
            }
            if (step == HandoffNioEndpoint.Step.IGNORE) {
                return SocketState.LONG; // a wake-up that found a request under way: nothing to do
            }
        }
        try {
            return tomcat.process(socket, status);
        } finally {
            if (endpoint.isReleasing()) {
                endpoint.eventEnded();
            }
        }
    }

    @Override
    public Object getGlobal() {
        return tomcat.getGlobal();
    }

    @Override
    public void release(SocketWrapperBase<NioChannel> socketWrapper) {
        tomcat.release(socketWrapper);
    }

    @Override
    public void pause() {
        tomcat.pause();
    }

    @Override
    public void recycle() {
        tomcat.recycle();
    }
}
