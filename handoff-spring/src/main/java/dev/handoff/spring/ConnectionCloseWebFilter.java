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
            if (drain.isDraining()) {
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
