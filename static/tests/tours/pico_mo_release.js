/** @odoo-module **/
// Releasing a manufacturing order and watching its units in the Pico tab
// (tests/test_tours.py: TestPicoTours.test_mo_release).
import { registry } from "@web/core/registry";

registry.category("web_tour.tours").add("pico_tour_mo_release", {
    steps: () => [
        {
            content: "Confirm the draft order of two drones",
            trigger: ".o_form_view .o_statusbar_buttons button[name=action_confirm]",
            run: "click",
        },
        {
            trigger: ".o_form_view .o_statusbar_status button.o_arrow_button_current:contains('Confirmed')",
        },
        {
            content: "A Pico tab appears",
            trigger: ".o_form_view .o_notebook a.nav-link:contains('Pico')",
            run: "click",
        },
        {
            content: "Two units, queued for Pico",
            trigger: ".o_field_widget[name=pico_work_order_ids] .o_data_row:eq(1):contains('Queued')",
        },
        {
            trigger: ".o_field_widget[name=pico_work_order_ids] .o_data_row:eq(0):contains('Queued'):contains('Pico Demo Drone')",
        },
    ],
});

registry.category("web_tour.tours").add("pico_tour_mo_units_progress", {
    steps: () => [
        {
            trigger: ".o_form_view .o_notebook a.nav-link:contains('Pico')",
            run: "click",
        },
        {
            content: "The first unit is built, with the serial Pico captured",
            trigger: ".o_field_widget[name=pico_work_order_ids] .o_data_row:contains('DRN-TOUR-1'):contains('Done')",
        },
        {
            content: "Its order is done; the other unit went on in a backorder",
            trigger: ".o_form_view .o_statusbar_status button.o_arrow_button_current:contains('Done')",
        },
        {
            trigger: ".o_form_view button[name=action_view_mrp_production_backorders]",
            run: "click",
        },
        {
            content: "The order's unit is done; the other one, in its backorder, is with Pico",
            trigger: ".o_list_view .o_data_row:contains('-002') td[name=pico_state]:contains('Sent')",
        },
        {
            trigger: ".o_list_view .o_data_row:contains('-001') td[name=pico_state]:contains('Done')",
        },
    ],
});
