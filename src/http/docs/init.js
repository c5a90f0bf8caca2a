// The reference of this service's API, read from its own OpenAPI document. Nothing is fetched
// from elsewhere: no validator badge, no fonts, no CDN.
window.ui = SwaggerUIBundle({
  url: "/api/v1/openapi.json",
  dom_id: "#swagger-ui",
  validatorUrl: null,
  deepLinking: true,
  persistAuthorization: true,
  displayRequestDuration: true,
  tryItOutEnabled: false,
  docExpansion: "list",
});
