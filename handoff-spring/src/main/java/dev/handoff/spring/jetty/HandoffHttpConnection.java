package dev.handoff.spring.jetty;

import dev.handoff.spring.WebServerDrain;
import org.eclipse.jetty.http.HttpGenerator;
import org.eclipse.jetty.http.MetaData;
import org.eclipse.jetty.io.AbstractEndPoint;
import org.eclipse.jetty.io.EndPoint;
import org.eclipse.jetty.io.SocketChannelEndPoint;
import org.eclipse.jetty.server.Connector;
import org.eclipse.jetty.server.HttpConfiguration;
import org.eclipse.jetty.server.internal.HttpConnection;

import java.io.IOException;
import java.nio.ByteBuffer;

/**
 * Jetty's HTTP/1.1 connection with one step in front of reading a request: while its connector releases
 * connections, a connection at its quiet point (no request under way, nothing parsed or buffered,
 * nothing left to write) leaves Jetty instead of reading. Jetty calls {@link #onFillable()} on one thread
 * at a time, and only when the connection waits for its next request. And one as each response's head is
 * written: during a drain, a response on a connection that cannot move says {@code Connection: close}.
 */
final class HandoffHttpConnection extends HttpConnection {

    private final JettyConnections connections;
    private final WebServerDrain drain;

    HandoffHttpConnection(HttpConfiguration configuration, Connector connector, EndPoint endPoint,
                          JettyConnections connections, WebServerDrain drain) {
        super(configuration, connector, endPoint);
        this.connections = connections;
        this.drain = drain;
    }

    /** Called by Jetty's constructor, before this class's fields are set: the generator reads them later. */
    @Override
    protected HttpGenerator newHttpGenerator() {
        return new DrainingGenerator();
    }

    @Override
    public void onFillable() {
        if (connections.isReleasing() && isQuiet() && connections.release(this)) {
            return;
        }
        super.onFillable();
    }

    /**
     * Whether it can ever move: it reads its socket's endpoint itself, not one that wraps it (TLS's, or the
     * one a PROXY protocol header left: the successor's connector would wait for the header first).
     */
    boolean canMove() {
        return getEndPoint() instanceof SocketChannelEndPoint;
    }

    /** Whether it waits for its next request with nothing of the last one left; plain TCP only. */
    boolean isQuiet() {
        return canMove() && isIdle();
    }

    /**
     * Whether it waits for its next request with nothing of the last one left (parsed, buffered, or left to
     * write), on whatever endpoint it reads: TLS's, a PROXY header's (which writes through the socket's).
     */
    boolean isIdle() {
        EndPoint endPoint = getEndPoint();
        EndPoint writer = endPoint instanceof EndPoint.Wrapper wrapper && !(endPoint instanceof AbstractEndPoint)
                ? wrapper.unwrap() : endPoint;
        return endPoint.isOpen() && getParser().isStart() && isRequestBufferEmpty() && getHttpChannel().getRequest() == null
                && writer instanceof AbstractEndPoint flushing && !flushing.getWriteFlusher().isPending();
    }

    /**
     * Decides at the commit, where a servlet filter cannot (an asynchronous request, a response committed
     * while its request still ran): a generator that is not persistent writes {@code Connection: close}
     * and Jetty closes the connection after the response. TLS is the connection's own, not what forwarded
     * headers say; a connection behind a PROXY header cannot move either.
     */
    private final class DrainingGenerator extends HttpGenerator {
        @Override
        public Result generateResponse(MetaData.Response info, boolean head, ByteBuffer header, ByteBuffer chunk,
                                       ByteBuffer content, boolean last) throws IOException {
            if (drain.isDraining() && info != null && getState() == State.START && info.getStatus() >= 200
                    && info.getHttpVersion() != null && drain.closesConnection(!canMove(), info.getHttpVersion().asString())) {
                setPersistent(false);
            }
            return super.generateResponse(info, head, header, chunk, content, last);
        }
    }
}
