package dev.handoff.spring;

import jakarta.servlet.FilterChain;
import jakarta.servlet.ServletException;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import org.springframework.core.Ordered;
import org.springframework.web.filter.OncePerRequestFilter;

import java.io.IOException;

/**
 * While the application drains, every response on a connection that does not move to the successor
 * carries {@code Connection: close}: the client closes the connection after reading the answer, at a
 * point where no request of its own can race with the close, and sends its next request on a new
 * connection, which the successor accepts.
 */
public class ConnectionCloseFilter extends OncePerRequestFilter implements Ordered {

    private final WebServerDrain drain;

    public ConnectionCloseFilter(WebServerDrain drain) {
        this.drain = drain;
    }

    @Override
    protected void doFilterInternal(HttpServletRequest request, HttpServletResponse response, FilterChain chain)
            throws ServletException, IOException {
        if (closes(request)) {
            response.setHeader("Connection", "close");
        }
        chain.doFilter(request, response);
        if (!response.isCommitted() && closes(request)) {
            response.setHeader("Connection", "close"); // the drain began while this request was in flight
        }
    }

    /**
     * Runs again when an asynchronous request (a {@code DeferredResult}, a {@code Mono}, a {@code Callable})
     * is dispatched back to write its result, which may be well into the drain although the request began
     * before it. The servers decide again as the response commits, but Tomcat asks only for responses with
     * a body: a 204 or a 304 is decided here.
     */
    @Override
    protected boolean shouldNotFilterAsyncDispatch() {
        return false;
    }

    /**
     * Asked as the drain stands now. TLS is the connection's own, not {@code isSecure()}, which follows
     * forwarded headers: behind a proxy that ends TLS it is true on plain connections, which move. Tomcat
     * and Jetty give a request its cipher suite only over TLS.
     */
    private boolean closes(HttpServletRequest request) {
        return drain.isDraining() && drain.closesConnection(
                request.getAttribute("jakarta.servlet.request.cipher_suite") != null, request.getProtocol());
    }

    @Override
    public int getOrder() {
        return Ordered.HIGHEST_PRECEDENCE;
    }
}
