/** @odoo-module **/
// Send to Pico on a bill of materials (BOM transfer) and the result shown on it
// (tests/test_tours.py: TestPicoTours.test_bom_transfer).
import { registry } from "@web/core/registry";

registry.category("web_tour.tours").add("pico_tour_bom_transfer", {
    steps: () => [
        {
            trigger: ".o_form_view .o_notebook a.nav-link:contains('Pico')",
            run: "click",
        },
        {
            trigger: ".o_form_view button[name=action_pico_transfer]",
            run: "click",
        },
        {
            content: "Confirm that Pico's UI edits will be overwritten",
            trigger: ".modal:contains('will be overwritten') footer button.btn-primary",
            run: "click",
        },
        {
            content: "Queued for Pico",
            trigger: ".o_form_view .o_field_widget[name=pico_transfer_state]:contains('Pending')",
        },
        {
            trigger: ".o_form_view .o_field_widget[name=pico_transfer_product_id]:contains('rover_7_b')",
        },
    ],
});

registry.category("web_tour.tours").add("pico_tour_bom_transfer_result", {
    steps: () => [
        {
            trigger: ".o_form_view .o_notebook a.nav-link:contains('Pico')",
            run: "click",
        },
        {
            content: "Pico took it",
            trigger: ".o_form_view .o_field_widget[name=pico_transfer_state]:contains('Done')",
        },
        {
            trigger: ".o_form_view .o_field_widget[name=pico_transfer_done_at]:not(:empty)",
        },
        {
            content: "The exchange behind it, one click away",
            trigger: ".o_form_view button[name=action_pico_transfer_open_exchange]",
            run: "click",
        },
        {
            trigger: ".o_form_view .o_field_widget[name=state] button.o_arrow_button_current:contains('Done')",
        },
    ],
});
