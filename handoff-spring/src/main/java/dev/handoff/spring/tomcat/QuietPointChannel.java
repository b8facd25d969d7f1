package dev.handoff.spring.tomcat;

import org.apache.tomcat.util.net.NioChannel;
import org.apache.tomcat.util.net.SocketBufferHandler;

import java.io.IOException;
import java.nio.ByteBuffer;

/**
 * A plain connection's channel that, while its endpoint releases connections, can read nothing at the
 * start of a request (see {@link HandoffNioEndpoint#holdsBack}). Tomcat's processor reads the next request
 * in its keep-alive loop, straight after the last response, and a client that sends it the instant the
 * response arrives keeps the connection there, never between requests where it could move; a read of
 * nothing makes the processor hand the connection back to the poller, whose read event reaches the quiet
 * point with the request still unread in the socket.
 */
final class QuietPointChannel extends NioChannel {

    private final HandoffNioEndpoint endpoint;

    QuietPointChannel(SocketBufferHandler buffers, HandoffNioEndpoint endpoint) {
        super(buffers);
        this.endpoint = endpoint;
    }

    @Override
    public int read(ByteBuffer dst) throws IOException {
        return endpoint.holdsBack(dst) ? 0 : super.read(dst);
    }
}
