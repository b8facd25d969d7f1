package dev.handoff.spring;

import org.springframework.core.Ordered;
import org.springframework.web.server.ServerWebExchange;
import org.springframework.web.server.WebFilter;
import org.springframework.web.server.WebFilterChain;
import reactor.core.publisher.Mono;

/** {@link ConnectionCloseFilter} for reactive applications. */
public class ConnectionCloseWebFilter implements WebFilter, Ordered {

    private final WebServerDrain drain;

    public ConnectionCloseWebFilter(WebServerDrain drain) {
        this.drain = drain;
    }

    @Override
    public Mono<Void> filter(ServerWebExchange exchange, WebFilterChain chain) {
        exchange.getResponse().beforeCommit(() -> {
            // Reactor Netty's connections that can move are HTTP/1.1 ones; the server tells the others apart.
            if (drain.closesConnection(exchange.getRequest().getSslInfo() != null, "HTTP/1.1")) {
                exchange.getResponse().getHeaders().set("Connection", "close");
            }
            return Mono.empty();
        });
        return chain.filter(exchange);
    }

    @Override
    public int getOrder() {
        return Ordered.HIGHEST_PRECEDENCE;
    }
}
