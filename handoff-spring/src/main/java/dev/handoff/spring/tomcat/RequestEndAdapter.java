package dev.handoff.spring.tomcat;

import org.apache.coyote.ActionCode;
import org.apache.coyote.Adapter;
import org.apache.coyote.Request;
import org.apache.coyote.Response;
import org.apache.tomcat.util.net.SocketEvent;

import java.util.concurrent.atomic.AtomicBoolean;

/**
 * Tomcat's adapter (the servlet container's entry), telling the endpoint as each HTTP/1.x request ends on
 * a worker that goes on to read the connection's next one: one neither upgraded nor still asynchronous,
 * ended by its request's own run or by the asynchronous dispatch that completes it.
 */
final class RequestEndAdapter implements Adapter {

    private final Adapter container;
    private final HandoffNioEndpoint endpoint;

    RequestEndAdapter(Adapter container, HandoffNioEndpoint endpoint) {
        this.container = container;
        this.endpoint = endpoint;
    }

    @Override
    public void service(Request req, Response res) throws Exception {
        container.service(req, res);
        ended(req, res);
    }

    /**
     * An HTTP/1.x request, neither upgraded nor still asynchronous, has ended: its worker goes on to read the
     * connection's next request. (The streams of an HTTP/2 connection end here too, on threads of their own.)
     */
    private void ended(Request req, Response res) {
        if (endpoint.isReleasing() && res.getStatus() != 101 && req.protocol().toString().startsWith("HTTP/1.")) {
            AtomicBoolean async = new AtomicBoolean();
            req.action(ActionCode.ASYNC_IS_ASYNC, async);
            if (!async.get()) {
                endpoint.requestEnded();
            }
        }
    }

    @Override
    public boolean prepare(Request req, Response res) throws Exception {
        return container.prepare(req, res);
    }

    @Override
    public boolean asyncDispatch(Request req, Response res, SocketEvent status) throws Exception {
        boolean dispatched = container.asyncDispatch(req, res, status);
        if (dispatched) {
            ended(req, res); // the processor then reads the next request itself, if one is there already
        }
        return dispatched;
    }

    @Override
    public void log(Request req, Response res, long time) {
        container.log(req, res, time);
    }

    @Override
    public void checkRecycled(Request req, Response res) {
        container.checkRecycled(req, res);
    }

    @Override
    public String getDomain() {
        return container.getDomain();
    }
}
