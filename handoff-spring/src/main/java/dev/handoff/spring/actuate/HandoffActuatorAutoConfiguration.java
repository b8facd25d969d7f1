package dev.handoff.spring.actuate;

import dev.handoff.core.Handoff;
import dev.handoff.spring.HandoffAutoConfiguration;
import dev.handoff.spring.HandoffCoordinator;
import org.springframework.boot.actuate.autoconfigure.endpoint.condition.ConditionalOnAvailableEndpoint;
import org.springframework.boot.autoconfigure.AutoConfiguration;
import org.springframework.boot.autoconfigure.condition.ConditionalOnBean;
import org.springframework.boot.autoconfigure.condition.ConditionalOnClass;
import org.springframework.boot.autoconfigure.condition.ConditionalOnMissingBean;
import org.springframework.boot.health.autoconfigure.contributor.ConditionalOnEnabledHealthIndicator;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;

/** The {@code handoff} actuator endpoint and health indicator, when actuator is on the classpath. */
@AutoConfiguration(after = HandoffAutoConfiguration.class)
@ConditionalOnBean(Handoff.class)
public class HandoffActuatorAutoConfiguration {

    @Configuration(proxyBeanMethods = false)
    @ConditionalOnClass(name = "org.springframework.boot.actuate.endpoint.annotation.Endpoint")
    @ConditionalOnAvailableEndpoint(HandoffEndpoint.class)
    static class Endpoint {

        @Bean
        @ConditionalOnMissingBean
        HandoffEndpoint handoffEndpoint(Handoff handoff, HandoffCoordinator coordinator) {
            return new HandoffEndpoint(handoff, coordinator);
        }
    }

    @Configuration(proxyBeanMethods = false)
    @ConditionalOnClass(name = "org.springframework.boot.health.contributor.HealthIndicator")
    @ConditionalOnEnabledHealthIndicator("handoff")
    static class Health {

        @Bean
        @ConditionalOnMissingBean(name = "handoffHealthIndicator")
        HandoffHealthIndicator handoffHealthIndicator(Handoff handoff, HandoffCoordinator coordinator) {
            return new HandoffHealthIndicator(handoff, coordinator);
        }
    }
}
