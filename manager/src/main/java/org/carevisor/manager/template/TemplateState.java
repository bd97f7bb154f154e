package org.carevisor.manager.template;

import com.fasterxml.jackson.annotation.JsonValue;
import java.util.Locale;

/**
 * Qualification state of a template: {@code draft} (can be tested and deployed, not verified),
 * {@code qualified} (base images frozen by their SHA-256; every deployment verifies them), {@code retired}
 * (no new deployments; existing VMs keep running). Only forward transitions exist.
 */
public enum TemplateState {
    DRAFT, QUALIFIED, RETIRED;

    @JsonValue
    public String json() {
        return name().toLowerCase(Locale.ROOT);
    }

    public static TemplateState parse(String s) {
        return valueOf(s.toUpperCase(Locale.ROOT));
    }

    /** Whether a template in this state may move to {@code next}. */
    public boolean canBecome(TemplateState next) {
        return switch (this) {
            case DRAFT -> next == QUALIFIED || next == RETIRED;
            case QUALIFIED -> next == RETIRED;
            case RETIRED -> false;
        };
    }
}
