package dev.handoff.spring.autoconfigure;

import dev.handoff.core.HandoffOptions;

/**
 * Tweaks the {@link HandoffOptions} the auto-configuration builds from the {@code handoff.*} properties,
 * without replacing them: every customizer bean is applied, in order, after the properties.
 * <pre>{@code
 * @Bean
 * HandoffOptionsCustomizer handoffBacklog() {
 *     return options -> options.backlog(4096);
 * }
 * }</pre>
 */
@FunctionalInterface
public interface HandoffOptionsCustomizer {

    void customize(HandoffOptions.Builder options);
}
