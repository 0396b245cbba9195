/** @odoo-module **/
// Mapping a bill of materials by hand: Suggest Mapping, fix what the live
// validation names, save (tests/test_tours.py: TestPicoTours.test_bom_mapping).
import { registry } from "@web/core/registry";

registry.category("web_tour.tours").add("pico_tour_bom_mapping", {
    steps: () => [
        {
            trigger: ".o_form_view .o_notebook a.nav-link:contains('Pico')",
            run: "click",
        },
        {
            trigger: ".o_form_view button[name=action_pico_suggest_mapping]",
            run: "click",
        },
        {
            content: "The suggestion found the Pico product",
            trigger: ".o_form_view .o_field_widget[name=pico_operation_id] input:value(/DRONE-100/)",
        },
        {
            content: "The live validation names the serial nobody consumes",
            trigger: ".o_form_view .alert-warning .o_field_widget[name=pico_mapping_problems]:contains('FC-330')",
        },
        {
            trigger: ".o_form_view .o_notebook a.nav-link:contains('Components')",
            run: "click",
        },
        {
            content: "Pick the Pico serial of the flight controller",
            trigger: ".o_field_widget[name=bom_line_ids] .o_data_row:contains('Flight controller') td[name=pico_attribute_id]",
            run: "click",
        },
        {
            trigger: ".o_field_widget[name=bom_line_ids] .o_selected_row .o_field_widget[name=pico_attribute_id] input",
            run: "edit FC-330",
        },
        {
            trigger: ".o-autocomplete--dropdown-item:contains('FC-330')",
            run: "click",
        },
        {
            trigger: ".o_form_view .o_notebook a.nav-link:contains('Pico')",
            run: "click",
        },
        {
            content: "Valid before even saving",
            trigger: ".o_form_view .o_field_widget[name=pico_mapping_state]:contains('Valid')",
        },
        {
            trigger: ".o_form_view .o_form_button_save",
            run: "click",
        },
        {
            content: "Saved, and the form says Pico can build it",
            trigger: ".o_form_view .o_form_saved .alert-success:contains('can be built by Pico')",
        },
    ],
});
