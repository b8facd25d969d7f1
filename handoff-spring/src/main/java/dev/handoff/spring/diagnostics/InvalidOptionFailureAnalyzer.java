package dev.handoff.spring.diagnostics;

import dev.handoff.core.InvalidOptionException;
import dev.handoff.spring.autoconfigure.HandoffProperties;
import org.springframework.beans.BeanUtils;
import org.springframework.boot.context.properties.bind.DataObjectPropertyName;
import org.springframework.boot.diagnostics.AbstractFailureAnalyzer;
import org.springframework.boot.diagnostics.FailureAnalysis;

/**
 * A {@code handoff.*} value the options do not take ({@code handoff.startup-nice=25}): named as the property
 * it came from when {@link HandoffProperties} has one for the option, else as the option a
 * {@code HandoffOptionsCustomizer} set.
 */
public final class InvalidOptionFailureAnalyzer extends AbstractFailureAnalyzer<InvalidOptionException> {

    @Override
    protected FailureAnalysis analyze(Throwable rootFailure, InvalidOptionException cause) {
        if (BeanUtils.getPropertyDescriptor(HandoffProperties.class, cause.option()) != null) {
            String property = "handoff." + DataObjectPropertyName.toDashedForm(cause.option());
            return new FailureAnalysis("Invalid " + property + ": " + cause.getMessage(),
                    "Set " + property + " to a value the description allows, or leave it out for its default.", cause);
        }
        return new FailureAnalysis("Invalid Handoff option " + cause.option() + ": " + cause.getMessage(),
                "Correct the value a HandoffOptionsCustomizer bean gives HandoffOptions.Builder." + cause.option()
                        + "(...).", cause);
    }
}
