package dev.handoff.spring;

import dev.handoff.core.Handoff;
import dev.handoff.core.HandoffOptions;
import io.micrometer.core.instrument.MeterRegistry;
import org.springframework.beans.factory.ObjectProvider;
import org.springframework.boot.autoconfigure.AutoConfiguration;
import org.springframework.boot.autoconfigure.condition.ConditionalOnClass;
import org.springframework.boot.autoconfigure.condition.ConditionalOnMissingBean;
import org.springframework.boot.autoconfigure.condition.ConditionalOnProperty;
import org.springframework.boot.autoconfigure.condition.ConditionalOnWebApplication;
import org.springframework.boot.context.properties.EnableConfigurationProperties;
import org.springframework.context.ConfigurableApplicationContext;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.context.annotation.Import;

import java.io.IOException;

/**
 * Zero-downtime restarts for a Spring Boot application: with {@code handoff.socket} set, the application
 * takes its listeners over from a running copy (or binds them on a cold start), says READY once it
 * serves, and drains and exits when its own successor has taken over. Every bean backs off when the
 * application defines its own.
 */
@AutoConfiguration
@ConditionalOnProperty(prefix = "handoff", name = "socket")
@ConditionalOnProperty(prefix = "handoff", name = "enabled", matchIfMissing = true)
@EnableConfigurationProperties(HandoffProperties.class)
@Import({HandoffAutoConfiguration.Tomcat.class, HandoffAutoConfiguration.Jetty.class, HandoffAutoConfiguration.Netty.class})
public class HandoffAutoConfiguration {

    @Bean
    @ConditionalOnMissingBean
    public HandoffOptions handoffOptions(HandoffProperties properties, ObjectProvider<MeterRegistry> meterRegistry) {
        HandoffOptions.Builder options = HandoffOptions.builder(properties.getSocket())
                .stepTimeout(properties.getStepTimeout())
                .readyTimeout(properties.getReadyTimeout())
                .probation(properties.getProbation())
                .drainTimeout(properties.getDrainTimeout())
                .upgradeCommand(properties.getUpgradeCommand())
                .upgradeTimeout(properties.getUpgradeTimeout());
        if (!properties.getAllowedPeerUids().isEmpty()) {
            options.allowedPeerUids(properties.getAllowedPeerUids());
        }
        if (properties.getSharedSecretFile() != null) {
            options.sharedSecretFile(properties.getSharedSecretFile());
        }
        meterRegistry.ifAvailable(options::meterRegistry);
        return options.build();
    }

    /** Started at once: the web server's listener comes from it, so it must exist before the server binds. */
    @Bean(destroyMethod = "close")
    @ConditionalOnMissingBean
    public Handoff handoff(HandoffOptions options) throws IOException {
        return Handoff.start(options);
    }

    @Bean
    @ConditionalOnMissingBean
    public WebServerDrain handoffWebServerDrain() {
        return new WebServerDrain();
    }

    @Bean
    @ConditionalOnMissingBean
    public HandoffCoordinator handoffCoordinator(Handoff handoff, HandoffProperties properties, WebServerDrain webServerDrain,
                                                 ObjectProvider<HandoffDrainParticipant> participants,
                                                 ConfigurableApplicationContext context) {
        return new HandoffCoordinator(handoff, properties, webServerDrain, participants.orderedStream().toList(), context);
    }

    @Bean
    @ConditionalOnWebApplication(type = ConditionalOnWebApplication.Type.SERVLET)
    @ConditionalOnClass(name = "org.springframework.web.filter.OncePerRequestFilter")
    @ConditionalOnMissingBean
    public ConnectionCloseFilter handoffConnectionCloseFilter(WebServerDrain webServerDrain) {
        return new ConnectionCloseFilter(webServerDrain);
    }

    @Bean
    @ConditionalOnWebApplication(type = ConditionalOnWebApplication.Type.REACTIVE)
    @ConditionalOnClass(name = "org.springframework.web.server.WebFilter")
    @ConditionalOnMissingBean
    public ConnectionCloseWebFilter handoffConnectionCloseWebFilter(WebServerDrain webServerDrain) {
        return new ConnectionCloseWebFilter(webServerDrain);
    }

    @Configuration(proxyBeanMethods = false)
    @ConditionalOnClass(name = {"org.apache.catalina.startup.Tomcat", "org.springframework.boot.tomcat.TomcatWebServerFactory"})
    static class Tomcat {

        @Bean
        @ConditionalOnMissingBean(name = "handoffTomcatCustomizer")
        dev.handoff.spring.tomcat.HandoffTomcatCustomizer handoffTomcatCustomizer(Handoff handoff, WebServerDrain webServerDrain) {
            return new dev.handoff.spring.tomcat.HandoffTomcatCustomizer(handoff, webServerDrain);
        }
    }

    @Configuration(proxyBeanMethods = false)
    @ConditionalOnClass(name = {"org.eclipse.jetty.server.ServerConnector", "org.springframework.boot.jetty.JettyWebServerFactory"})
    static class Jetty {

        @Bean
        @ConditionalOnMissingBean(name = "handoffJettyCustomizer")
        dev.handoff.spring.jetty.HandoffJettyCustomizer handoffJettyCustomizer(Handoff handoff, WebServerDrain webServerDrain) {
            return new dev.handoff.spring.jetty.HandoffJettyCustomizer(handoff, webServerDrain);
        }
    }

    @Configuration(proxyBeanMethods = false)
    @ConditionalOnClass(name = {"reactor.netty.http.server.HttpServer", "org.springframework.boot.reactor.netty.NettyReactiveWebServerFactory"})
    static class Netty {

        @Bean
        @ConditionalOnMissingBean(name = "handoffNettyCustomizer")
        dev.handoff.spring.netty.HandoffNettyCustomizer handoffNettyCustomizer(Handoff handoff, WebServerDrain webServerDrain) {
            return new dev.handoff.spring.netty.HandoffNettyCustomizer(handoff, webServerDrain);
        }
    }
}
