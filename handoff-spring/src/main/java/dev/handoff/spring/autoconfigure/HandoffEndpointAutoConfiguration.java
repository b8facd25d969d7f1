package dev.handoff.spring.autoconfigure;

import dev.handoff.core.Handoff;
import dev.handoff.spring.HandoffCoordinator;
import dev.handoff.spring.actuate.HandoffEndpoint;
import org.springframework.boot.actuate.autoconfigure.endpoint.condition.ConditionalOnAvailableEndpoint;
import org.springframework.boot.autoconfigure.AutoConfiguration;
import org.springframework.boot.autoconfigure.condition.ConditionalOnBean;
import org.springframework.boot.autoconfigure.condition.ConditionalOnClass;
import org.springframework.boot.autoconfigure.condition.ConditionalOnMissingBean;
import org.springframework.context.annotation.Bean;

/** The {@code handoff} actuator endpoint ({@code /actuator/handoff} once exposed), with actuator on the class path. */
@AutoConfiguration(after = HandoffAutoConfiguration.class)
@ConditionalOnClass(name = "org.springframework.boot.actuate.endpoint.annotation.Endpoint")
@ConditionalOnBean({Handoff.class, HandoffCoordinator.class})
@ConditionalOnAvailableEndpoint(HandoffEndpoint.class)
public final class HandoffEndpointAutoConfiguration {

    @Bean
    @ConditionalOnMissingBean
    HandoffEndpoint handoffEndpoint(Handoff handoff, HandoffCoordinator coordinator) {
        return new HandoffEndpoint(handoff, coordinator);
    }
}
