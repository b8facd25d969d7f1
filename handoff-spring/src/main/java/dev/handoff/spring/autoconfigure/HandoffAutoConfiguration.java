package dev.handoff.spring.autoconfigure;

import dev.handoff.core.Handoff;
import dev.handoff.core.HandoffOptions;
import dev.handoff.spring.ConnectionCloseFilter;
import dev.handoff.spring.ConnectionCloseWebFilter;
import dev.handoff.spring.HandoffCoordinator;
import dev.handoff.spring.HandoffDrainParticipant;
import dev.handoff.spring.WebServerDrain;
import dev.handoff.spring.jetty.HandoffJettyCustomizer;
import dev.handoff.spring.netty.HandoffNettyCustomizer;
import dev.handoff.spring.netty.NettyPrivateConnector;
import dev.handoff.spring.tomcat.HandoffTomcatCustomizer;
import dev.handoff.spring.tomcat.TomcatPrivateConnector;
import dev.handoff.spring.warmup.PrivateConnectorOpener;
import dev.handoff.spring.warmup.RequestPathWarmUp;
import io.micrometer.core.instrument.MeterRegistry;
import org.springframework.beans.factory.ObjectProvider;
import org.springframework.boot.autoconfigure.AutoConfiguration;
import org.springframework.boot.autoconfigure.condition.ConditionalOnBooleanProperty;
import org.springframework.boot.autoconfigure.condition.ConditionalOnClass;
import org.springframework.boot.autoconfigure.condition.ConditionalOnMissingBean;
import org.springframework.boot.autoconfigure.condition.ConditionalOnProperty;
import org.springframework.boot.autoconfigure.condition.ConditionalOnWebApplication;
import org.springframework.boot.context.properties.EnableConfigurationProperties;
import org.springframework.context.ApplicationContext;
import org.springframework.context.ConfigurableApplicationContext;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.context.annotation.Import;

import java.io.IOException;

/**
 * Zero-downtime restarts for a Spring Boot application: with {@code handoff.socket} set, the application
 * takes its listeners over from a running copy (or binds them on a cold start), says READY once it
 * serves, and drains and exits when its own successor has taken over. Every bean backs off when the
 * application defines its own; {@link HandoffOptionsCustomizer} beans adjust the options.
 */
@AutoConfiguration
@ConditionalOnProperty(prefix = "handoff", name = "socket")
@ConditionalOnBooleanProperty(name = "handoff.enabled", matchIfMissing = true)
@EnableConfigurationProperties(HandoffProperties.class)
@Import({HandoffAutoConfiguration.Metrics.class, HandoffAutoConfiguration.Tomcat.class,
        HandoffAutoConfiguration.Jetty.class, HandoffAutoConfiguration.Netty.class})
public final class HandoffAutoConfiguration {

    /** The name under which the application's web server's listener is handed over. */
    public static final String HTTP_LISTENER = "http";

    @Bean
    @ConditionalOnMissingBean
    HandoffOptions handoffOptions(HandoffProperties properties, ObjectProvider<HandoffOptionsCustomizer> customizers) {
        HandoffOptions.Builder options = HandoffOptions.builder(properties.getSocket())
                .stepTimeout(properties.getStepTimeout())
                .readyTimeout(properties.getReadyTimeout())
                .probation(properties.getProbation())
                .startupNice(properties.getStartupNice())
                .drainTimeout(properties.getDrainTimeout())
                .busyTimeout(properties.getBusyTimeout())
                .upgradeCommand(properties.getUpgradeCommand())
                .upgradeTimeout(properties.getUpgradeTimeout());
        if (!properties.getAllowedPeerUids().isEmpty()) {
            options.allowedPeerUids(properties.getAllowedPeerUids());
        }
        if (properties.getSharedSecretFile() != null) {
            options.sharedSecretFile(properties.getSharedSecretFile());
        }
        if (properties.getPidFile() != null) {
            options.pidFile(properties.getPidFile());
        }
        customizers.orderedStream().forEach(customizer -> customizer.customize(options));
        return options.build();
    }

    /** Started at once: the web server's listener comes from it, so it must exist before the server binds. */
    @Bean(destroyMethod = "close")
    @ConditionalOnMissingBean
    Handoff handoff(HandoffOptions options) throws IOException {
        return Handoff.start(options);
    }

    @Bean
    @ConditionalOnMissingBean
    WebServerDrain handoffWebServerDrain(HandoffProperties properties) {
        return new WebServerDrain(properties.getIdleCloseGrace());
    }

    @Bean
    @ConditionalOnMissingBean
    HandoffCoordinator handoffCoordinator(Handoff handoff, HandoffProperties properties, WebServerDrain webServerDrain,
                                          ObjectProvider<HandoffDrainParticipant> participants,
                                          ConfigurableApplicationContext context) {
        return new HandoffCoordinator(handoff, webServerDrain, participants.orderedStream().toList(), context,
                properties.isExitWhenDone());
    }

    @Bean
    @ConditionalOnWebApplication(type = ConditionalOnWebApplication.Type.SERVLET)
    @ConditionalOnClass(name = "org.springframework.web.filter.OncePerRequestFilter")
    @ConditionalOnMissingBean
    ConnectionCloseFilter handoffConnectionCloseFilter(WebServerDrain webServerDrain) {
        return new ConnectionCloseFilter(webServerDrain);
    }

    @Bean
    @ConditionalOnWebApplication(type = ConditionalOnWebApplication.Type.REACTIVE)
    @ConditionalOnClass(name = "org.springframework.web.server.WebFilter")
    @ConditionalOnMissingBean
    ConnectionCloseWebFilter handoffConnectionCloseWebFilter(WebServerDrain webServerDrain) {
        return new ConnectionCloseWebFilter(webServerDrain);
    }

    /** A successor's request path, warmed up before its web server accepts on the inherited listener. */
    @Bean
    @ConditionalOnWebApplication
    @ConditionalOnBooleanProperty(name = "handoff.warm-up.enabled", matchIfMissing = true)
    @ConditionalOnMissingBean
    RequestPathWarmUp handoffRequestPathWarmUp(Handoff handoff, HandoffProperties properties, ApplicationContext context,
                                               ObjectProvider<PrivateConnectorOpener> openers) {
        HandoffProperties.WarmUp warmUp = properties.getWarmUp();
        return new RequestPathWarmUp(handoff, context, openers.orderedStream().toList(), warmUp.getPaths(),
                warmUp.getRequests(), warmUp.getTimeout());
    }

    /** The handoff.* meters go to the application's registry, when it has Micrometer and a registry. */
    @Configuration(proxyBeanMethods = false)
    @ConditionalOnClass(name = "io.micrometer.core.instrument.MeterRegistry")
    static class Metrics {

        @Bean
        HandoffOptionsCustomizer handoffMeterRegistry(ObjectProvider<MeterRegistry> registry) {
            return options -> registry.ifAvailable(options::meterRegistry);
        }
    }

    @Configuration(proxyBeanMethods = false)
    @ConditionalOnClass(name = {"org.apache.catalina.startup.Tomcat", "org.springframework.boot.tomcat.TomcatWebServerFactory"})
    static class Tomcat {

        @Bean
        @ConditionalOnMissingBean(name = "handoffTomcatCustomizer")
        HandoffTomcatCustomizer handoffTomcatCustomizer(Handoff handoff, WebServerDrain webServerDrain) {
            return new HandoffTomcatCustomizer(handoff, webServerDrain, HTTP_LISTENER);
        }

        @Bean
        PrivateConnectorOpener handoffTomcatPrivateConnector() {
            return TomcatPrivateConnector.OPENER;
        }
    }

    @Configuration(proxyBeanMethods = false)
    @ConditionalOnClass(name = {"org.eclipse.jetty.server.ServerConnector", "org.springframework.boot.jetty.JettyWebServerFactory"})
    static class Jetty {

        @Bean
        @ConditionalOnMissingBean(name = "handoffJettyCustomizer")
        HandoffJettyCustomizer handoffJettyCustomizer(Handoff handoff, WebServerDrain webServerDrain,
                                                      ObjectProvider<RequestPathWarmUp> warmUp) {
            return new HandoffJettyCustomizer(handoff, webServerDrain, HTTP_LISTENER, warmUp.getIfAvailable());
        }

    }

    @Configuration(proxyBeanMethods = false)
    @ConditionalOnClass(name = {"reactor.netty.http.server.HttpServer", "org.springframework.boot.reactor.netty.NettyReactiveWebServerFactory"})
    static class Netty {

        @Bean
        @ConditionalOnMissingBean(name = "handoffNettyCustomizer")
        HandoffNettyCustomizer handoffNettyCustomizer(Handoff handoff, WebServerDrain webServerDrain) {
            return new HandoffNettyCustomizer(handoff, webServerDrain, HTTP_LISTENER);
        }

        @Bean
        PrivateConnectorOpener handoffNettyPrivateConnector() {
            return NettyPrivateConnector.OPENER;
        }
    }
}
