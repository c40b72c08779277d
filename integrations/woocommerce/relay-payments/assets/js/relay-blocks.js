/**
 * Checkout block: the "relay" payment method (title and description; payment happens on the relay's page).
 * Plain script, no build step: it uses the globals WooCommerce Blocks and WordPress provide.
 */
( function ( wc, wp ) {
	'use strict';
	if ( ! wc || ! wc.wcBlocksRegistry || ! wc.wcSettings || ! wp || ! wp.element ) {
		return;
	}
	var el = wp.element.createElement;
	var decode = wp.htmlEntities ? wp.htmlEntities.decodeEntities : function ( text ) {
		return text;
	};
	var data = wc.wcSettings.getSetting( 'relay_data', {} );
	var title = decode( data.title || 'Pay with crypto' );
	var description = decode( data.description || '' );

	var Content = function () {
		return el( 'div', { className: 'wc-block-components-payment-method-description' }, description );
	};
	var Label = function ( props ) {
		var PaymentMethodLabel = props && props.components ? props.components.PaymentMethodLabel : null;
		return PaymentMethodLabel ? el( PaymentMethodLabel, { text: title } ) : el( 'span', null, title );
	};

	wc.wcBlocksRegistry.registerPaymentMethod( {
		name: 'relay',
		label: el( Label, null ),
		content: el( Content, null ),
		edit: el( Content, null ),
		canMakePayment: function () {
			return true;
		},
		ariaLabel: title,
		supports: { features: data.supports || [ 'products' ] }
	} );
} )( window.wc, window.wp );
