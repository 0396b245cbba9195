/** @odoo-module **/
// The first-run assistant, from a new backend to a mapped bill of materials
// (tests/test_tours.py: TestPicoTours.test_setup_assistant).
import { registry } from "@web/core/registry";

function cookie(name) {
    const found = document.cookie.split("; ").find((item) => item.startsWith(`${name}=`));
    return found ? decodeURIComponent(found.split("=").slice(1).join("=")) : "";
}

registry.category("web_tour.tours").add("pico_tour_setup_assistant", {
    steps: () => [
        {
            content: "Start the assistant from the list of backends",
            trigger: "button:contains('New with Assistant')",
            run: "click",
        },
        {
            content: "Name the backend",
            trigger: ".modal .o_field_widget[name=name] input",
            run: "edit Plant 2 Pico",
        },
        {
            content: "Enter Pico's API address (the test's simulator)",
            trigger: ".modal .o_field_widget[name=endpoint_url] input",
            async run(helpers) {
                await helpers.edit(cookie("pico_tour_endpoint"));
            },
        },
        {
            content: "Enter the token",
            trigger: ".modal .o_field_widget[name=api_token] input",
            run: "edit sim-token",
        },
        {
            trigger: ".modal footer button:contains('Save and Connect')",
            run: "click",
        },
        {
            content: "Pico answers, in plain words",
            trigger: ".modal .o_pico_setup_result:contains('Pico answers at')",
        },
        {
            trigger: ".modal footer button:contains('Next')",
            run: "click",
        },
        {
            content: "The catalogue says how many Pico products and processes",
            trigger: ".modal .o_pico_setup_result:contains('Pico products and processes are now known')",
        },
        {
            trigger: ".modal footer button:contains('Next')",
            run: "click",
        },
        {
            content: "The public URL is proposed",
            trigger: ".modal .o_field_widget[name=webhook_base_url] input:value(/^http/)",
        },
        {
            trigger: ".modal footer button:contains('Register Webhooks')",
            run: "click",
        },
        {
            content: "Registered, and the signed ping came back through the public URL",
            trigger: ".modal .o_pico_setup_result:contains('answered as this database')",
        },
        {
            trigger: ".modal footer button:contains('Next')",
            run: "click",
        },
        {
            content: "The drone's bill of materials is mapped",
            trigger: ".modal .o_field_widget[name=mapped_bom_ids] .o_data_row:contains('Drone'):contains('Valid')",
        },
        {
            trigger: ".modal footer button:contains('Finish')",
            run: "click",
        },
        {
            trigger: ".modal .o_pico_setup_done:contains('Everything is set up')",
        },
        {
            trigger: ".modal footer button:contains('Open the Backend')",
            run: "click",
        },
        {
            content: "The backend says it is ready",
            trigger: ".o_form_view .o_field_widget[name=pico_setup_state]:contains('Ready')",
        },
    ],
});
