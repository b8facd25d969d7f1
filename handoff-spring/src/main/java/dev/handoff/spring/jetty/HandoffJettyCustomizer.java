package dev.handoff.spring.jetty;

import dev.handoff.core.Handoff;
import dev.handoff.spring.WebServerDrain;
import org.eclipse.jetty.server.Connector;
import org.eclipse.jetty.server.ServerConnector;
import org.springframework.boot.jetty.JettyWebServerFactory;
import org.springframework.boot.web.server.WebServerFactoryCustomizer;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;

/**
 * Opens Jetty's HTTP connector on the listening socket the {@link Handoff} gives it, before Jetty would
 * bind one, and tells the drain how to stop accepting and how many connections are open.
 */
public class HandoffJettyCustomizer implements WebServerFactoryCustomizer<JettyWebServerFactory> {

    private final Handoff handoff;
    private final WebServerDrain drain;

    public HandoffJettyCustomizer(Handoff handoff, WebServerDrain drain) {
        this.handoff = handoff;
        this.drain = drain;
    }

    @Override
    public void customize(JettyWebServerFactory factory) {
        factory.addServerCustomizers(server -> {
            for (Connector connector : server.getConnectors()) {
                if (connector instanceof ServerConnector http) {
                    open(http);
                    return; // the first HTTP connector is the application's port
                }
            }
        });
    }

    private void open(ServerConnector connector) {
        String host = connector.getHost();
        InetSocketAddress address = host == null || host.isEmpty() ? new InetSocketAddress(connector.getPort())
                : new InetSocketAddress(host, connector.getPort());
        try {
            connector.open(handoff.listen("http", address));
        } catch (IOException e) {
            throw new UncheckedIOException("could not open Jetty's connector on the handed-over socket", e);
        }
        drain.openConnections(() -> connector.getConnectedEndPoints().size());
        drain.stopAccepting(() -> connector.setAccepting(false));
    }
}
