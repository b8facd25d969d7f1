package dev.handoff.spring.warmup;

import org.springframework.boot.web.server.WebServer;
import org.springframework.context.ApplicationContext;

/**
 * Opens a {@link PrivateConnector} on one kind of embedded web server, before that server starts (a bean per
 * kind).
 */
public interface PrivateConnectorOpener {

    /** Whether {@code server} is of this opener's kind. */
    boolean opens(WebServer server);

    PrivateConnector open(WebServer server, ApplicationContext context) throws Exception;
}
