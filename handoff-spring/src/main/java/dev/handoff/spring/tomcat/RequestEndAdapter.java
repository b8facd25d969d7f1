package dev.handoff.spring.tomcat;

import org.apache.coyote.ActionCode;
import org.apache.coyote.Adapter;
import org.apache.coyote.Request;
import org.apache.coyote.Response;
import org.apache.tomcat.util.net.SocketEvent;

import java.util.concurrent.atomic.AtomicBoolean;

/**
 * Tomcat's adapter (the servlet container's entry), telling the endpoint as each HTTP/1.1 request ends on
 * a worker that goes on to read the connection's next one: one neither asynchronous nor upgraded.
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
        if (endpoint.isReleasing() && res.getStatus() != 101) {
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
        return container.asyncDispatch(req, res, status);
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
