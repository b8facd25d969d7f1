package dev.handoff.spring.jetty;

import dev.handoff.core.Handoff;
import dev.handoff.spring.WebServerDrain;
import org.eclipse.jetty.server.ConnectionFactory;
import org.eclipse.jetty.server.Connector;
import org.eclipse.jetty.server.HttpConnectionFactory;
import org.eclipse.jetty.server.ServerConnector;
import org.springframework.boot.jetty.JettyWebServerFactory;
import org.springframework.boot.web.server.WebServerFactoryCustomizer;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.List;

/**
 * Opens Jetty's HTTP connector on the listening socket the {@link Handoff} gives it, before Jetty would
 * bind one, makes its HTTP/1.1 connections movable and adopts those its predecessor hands over, and tells
 * the drain how to stop accepting, how many connections are open and how they move.
 */
public class HandoffJettyCustomizer implements WebServerFactoryCustomizer<JettyWebServerFactory> {

    private final Handoff handoff;
    private final WebServerDrain drain;
    private final String listener;

    /** For the server whose listener is handed over under the name {@code listener} ({@code http}, {@code management}). */
    public HandoffJettyCustomizer(Handoff handoff, WebServerDrain drain, String listener) {
        this.handoff = handoff;
        this.drain = drain;
        this.listener = listener;
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
        JettyConnections connections = new JettyConnections(connector, listener);
        List<ConnectionFactory> factories = new ArrayList<>();
        for (ConnectionFactory factory : connector.getConnectionFactories()) {
            factories.add(factory instanceof HttpConnectionFactory http ? new HandoffHttpConnectionFactory(http, connections)
                    : factory);
        }
        String defaultProtocol = connector.getDefaultProtocol();
        connector.setConnectionFactories(factories);
        connector.setDefaultProtocol(defaultProtocol);
        String host = connector.getHost();
        InetSocketAddress address = host == null || host.isEmpty() ? new InetSocketAddress(connector.getPort())
                : new InetSocketAddress(host, connector.getPort());
        try {
            connector.open(handoff.listen(listener, address));
        } catch (IOException e) {
            throw new UncheckedIOException("could not open Jetty's connector on the handed-over socket", e);
        }
        drain.register(() -> connector.setAccepting(false), () -> connector.getConnectedEndPoints().size(), connections);
        handoff.onConnection(listener, connections::adopt);
    }
}
