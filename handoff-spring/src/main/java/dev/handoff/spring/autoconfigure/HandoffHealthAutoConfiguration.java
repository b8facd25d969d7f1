package dev.handoff.spring.autoconfigure;

import dev.handoff.core.Handoff;
import dev.handoff.spring.HandoffCoordinator;
import dev.handoff.spring.actuate.HandoffHealthIndicator;
import org.springframework.boot.autoconfigure.AutoConfiguration;
import org.springframework.boot.autoconfigure.condition.ConditionalOnBean;
import org.springframework.boot.autoconfigure.condition.ConditionalOnClass;
import org.springframework.boot.autoconfigure.condition.ConditionalOnMissingBean;
import org.springframework.boot.health.autoconfigure.contributor.ConditionalOnEnabledHealthIndicator;
import org.springframework.context.annotation.Bean;

/**
 * The {@code handoff} health indicator (OUT_OF_SERVICE while this process drains), with Spring Boot's
 * health support on the class path; {@code management.health.handoff.enabled=false} turns it off.
 */
@AutoConfiguration(after = HandoffAutoConfiguration.class,
        beforeName = "org.springframework.boot.health.autoconfigure.contributor.HealthContributorAutoConfiguration")
@ConditionalOnClass(name = "org.springframework.boot.health.contributor.HealthIndicator")
@ConditionalOnBean({Handoff.class, HandoffCoordinator.class})
@ConditionalOnEnabledHealthIndicator("handoff")
public final class HandoffHealthAutoConfiguration {

    @Bean
    @ConditionalOnMissingBean(name = "handoffHealthIndicator")
    HandoffHealthIndicator handoffHealthIndicator(Handoff handoff, HandoffCoordinator coordinator) {
        return new HandoffHealthIndicator(handoff, coordinator);
    }
}
