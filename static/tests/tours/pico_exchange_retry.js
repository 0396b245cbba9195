/** @odoo-module **/
// A failed exchange retried with one click, from the order's Pico Exchanges
// (tests/test_tours.py: TestPicoTours.test_exchange_retry).
import { registry } from "@web/core/registry";

registry.category("web_tour.tours").add("pico_tour_exchange_retry", {
    steps: () => [
        {
            content: "The order shows its exchanges with Pico",
            trigger: ".o_form_view button[name=action_view_pico_exchanges]",
            run: "click",
        },
        {
            content: "One of them failed, with Pico's answer",
            trigger: ".o_list_view .o_data_row:contains('Failed'):contains('HTTP 400')",
        },
        {
            trigger: ".o_list_view .o_data_row:contains('Failed') button[name=action_retry]",
            run: "click",
        },
        {
            content: "Back in the queue, no failure left",
            trigger: ".o_list_view .o_data_row:contains('Pending')",
        },
        {
            trigger: ".o_list_view:not(:has(.o_data_row:contains('Failed')))",
        },
    ],
});
